// ESM entry: the same exports as the CommonJS entry (index.js).
import face from './index.js'

export const {
  PostgresStorageAdapter,
  StorageError,
  ConflictError,
  ValidationError,
  NotFoundError,
  serializeSession,
  deserializeSession,
} = face
