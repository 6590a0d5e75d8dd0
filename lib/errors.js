'use strict'
// The contract's error classes, and the decoding of the native layer's coded errors into them.

/** Base class of every error the adapter throws. */
class StorageError extends Error {
  constructor(message, cause) {
    super(message)
    this.name = 'StorageError'
    if (cause !== undefined) this.cause = cause
  }
}

/** An optimistic-lock conflict: `conflictingVersions` is `[attempted, stored]`. */
class ConflictError extends StorageError {
  constructor(message, conflictingVersions) {
    super(message)
    this.name = 'ConflictError'
    this.conflictingVersions = conflictingVersions
  }
}

/** Input (or configuration) refused before anything was written; `invalidFields` names it. */
class ValidationError extends StorageError {
  constructor(message, invalidFields) {
    super(message)
    this.name = 'ValidationError'
    this.invalidFields = invalidFields
  }
}

/** A named resource does not exist. */
class NotFoundError extends StorageError {
  constructor(resource, id) {
    super(`${resource} not found: ${id}`)
    this.name = 'NotFoundError'
    this.resource = resource
    this.id = id
  }
}

const defaultErrorClasses = Object.freeze({ StorageError, ConflictError, ValidationError, NotFoundError })

/** The classes to throw: the app's where given (`errorClasses` option), ours otherwise. */
function resolveErrorClasses(injected) {
  if (injected == null) return defaultErrorClasses
  if (typeof injected !== 'object') {
    throw new ValidationError('invalid option `errorClasses`: expected an object of classes', ['errorClasses'])
  }
  const classes = { ...defaultErrorClasses }
  for (const name of Object.keys(defaultErrorClasses)) {
    const given = injected[name]
    if (given == null) continue
    if (typeof given !== 'function') {
      throw new ValidationError(`invalid option \`errorClasses.${name}\`: expected a class`, [`errorClasses.${name}`])
    }
    classes[name] = given
  }
  return Object.freeze(classes)
}

// Sets a diagnostic property unless the app's class already did (or forbids it).
function decorate(error, key, value) {
  if (value === undefined || error[key] !== undefined) return
  try {
    Object.defineProperty(error, key, { value, enumerable: false, writable: true, configurable: true })
  } catch {
    // A frozen or exotic error object: keep it as the app made it.
  }
}

const NATIVE_ERROR = /^(E_[A-Z_]+) (\{[\s\S]*\})$/

// Native errors reject with "<E_CODE> <json details>" (see src/error.rs).
function decodeNativeError(raw) {
  const text = raw != null && typeof raw.message === 'string' ? raw.message : String(raw)
  const match = NATIVE_ERROR.exec(text)
  if (match) {
    try {
      return { code: match[1], details: JSON.parse(match[2]) }
    } catch {
      // Fall through: not our format after all.
    }
  }
  return { code: 'E_INTERNAL', details: { message: text } }
}

/** Builds the typed error (with the app's classes) for an error from the native layer. */
function fromNative(raw, classes) {
  const { code, details } = decodeNativeError(raw)
  let error
  switch (code) {
    case 'E_CONFLICT':
      error = new classes.ConflictError(details.message, details.conflictingVersions)
      break
    case 'E_VALIDATION':
    case 'E_CONFIG':
      error = new classes.ValidationError(details.message, details.field ? [details.field] : undefined)
      break
    case 'E_NOT_FOUND':
      error = new classes.NotFoundError(details.resource, details.id)
      break
    default: {
      let cause
      if (typeof details.cause === 'string') {
        cause = new Error(details.cause)
        if (details.sqlstate) cause.code = details.sqlstate
      }
      error = new classes.StorageError(details.message, cause)
    }
  }
  decorate(error, 'code', code)
  decorate(error, 'sqlstate', details.sqlstate)
  return error
}

/** A ValidationError (app's class where injected) naming `field`. */
function invalid(classes, message, field) {
  const error = new classes.ValidationError(message, [field])
  decorate(error, 'code', 'E_VALIDATION')
  return error
}

module.exports = {
  StorageError,
  ConflictError,
  ValidationError,
  NotFoundError,
  defaultErrorClasses,
  resolveErrorClasses,
  fromNative,
  invalid,
}
