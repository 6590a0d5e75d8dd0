// SmallTalk's four storage errors (docs/contract.md, "Errors"): each extends Error and sets `name` to its
// class name. SmallTalk tests `instanceof` against these classes, never against the adapter's.

export class StorageError extends Error {
  constructor(
    message: string,
    public readonly cause?: Error,
  ) {
    super(message)
    this.name = 'StorageError'
  }
}

export class ConflictError extends StorageError {
  constructor(
    message: string,
    public readonly conflictingVersions?: number[],
  ) {
    super(message)
    this.name = 'ConflictError'
  }
}

export class ValidationError extends StorageError {
  constructor(
    message: string,
    public readonly invalidFields?: string[],
  ) {
    super(message)
    this.name = 'ValidationError'
  }
}

export class NotFoundError extends StorageError {
  constructor(resource: string, id: string) {
    super(`${resource} not found: ${id}`)
    this.name = 'NotFoundError'
  }
}
