// SmallTalk's adapter factory after the migration to this package. Against SmallTalk's own, the
// only changes are the import of PostgresStorageAdapter and the `errorClasses` option (README,
// "Migrating from SmallTalk's TypeScript adapter"). The adapter is built into an unannotated
// `const` and returned as a StorageAdapter, as a factory does.
import { PostgresStorageAdapter } from '@smalltalk-ai/postgres-storage'
import type { PostgresConnection } from './connection.js'
import { ConflictError, NotFoundError, StorageError, ValidationError } from './errors.js'
import type { StorageAdapter, StorageAdapterConfig } from './StorageAdapter.js'

export class StorageAdapterFactory {
  constructor(private readonly postgres: PostgresConnection = {}) {}

  async createAdapter(backendType: string, config?: StorageAdapterConfig): Promise<StorageAdapter> {
    switch (backendType) {
      case 'postgres': {
        const adapter = new PostgresStorageAdapter({
          ...this.postgres,
          errorClasses: { StorageError, ConflictError, ValidationError, NotFoundError },
        })
        await adapter.initialize(config)
        return adapter
      }
      default:
        throw new Error(`unsupported storage backend: ${backendType}`)
    }
  }
}
