// SmallTalk's adapter factory after the migration to this package. Against SmallTalk's own, the
// only changes are the import of PostgresStorageAdapter (with its PostgresConfig type) and the
// `errorClasses` option: the README's migration diff, which readme.spec.ts checks against this
// file. The adapter is built into an unannotated `const` and returned as a StorageAdapter.
import { PostgresStorageAdapter, type PostgresConfig } from '@smalltalk-ai/postgres-storage'
import { ConflictError, NotFoundError, StorageError, ValidationError } from './errors.js'
import type { StorageAdapter, StorageAdapterConfig } from './StorageAdapter.js'

export class StorageAdapterFactory {
  constructor(private readonly postgres: PostgresConfig = {}) {}

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
