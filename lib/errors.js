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

// Whether `value` can be called with `new`, found out without calling it: Reflect.construct
// checks that its newTarget is a constructor before it runs anything, and the target it then
// runs is Object, which only reads `value.prototype`.
function isConstructor(value) {
  if (typeof value !== 'function') return false
  try {
    Reflect.construct(Object, [], value)
    return true
  } catch {
    return false
  }
}

// Whether an object is Error.prototype: this realm's, or another's (a class made in a vm context
// or another jest sandbox extends that realm's Error, and its instances are still Errors).
function isErrorPrototype(candidate) {
  if (candidate === Error.prototype) return true
  const own = Object.getOwnPropertyDescriptor(candidate, 'constructor')
  const ctor = own && own.value
  return typeof ctor === 'function' && ctor.name === 'Error' && ctor.prototype === candidate
}

// Why `given` cannot be one of the adapter's error classes, or null when it can. The check reads
// the class's prototype chain and calls nothing of the app's: constructing a probe instance would
// run the app's constructor (logging, counters, stack capture) for no error at all.
function errorClassProblem(given) {
  if (typeof given !== 'function') {
    return `expected a class (got ${given === null ? 'null' : Array.isArray(given) ? 'an array' : typeof given})`
  }
  if (!isConstructor(given)) {
    return 'expected a class or a function usable with `new` (got an arrow function, a method or an async function)'
  }
  const prototype = given.prototype
  if (prototype === null || (typeof prototype !== 'object' && typeof prototype !== 'function')) {
    return (
      'expected a class whose instances are Errors ' +
      '(it has no prototype to check: pass the class itself, not a bound function)'
    )
  }
  for (let link = prototype; link !== null; link = Object.getPrototypeOf(link)) {
    if (isErrorPrototype(link)) return null
  }
  return 'expected a class whose instances are Errors (Error.prototype is not on its prototype chain)'
}

/**
 * The classes to throw: the app's where given (`errorClasses` option), ours otherwise. Each given
 * class must be constructible and make Errors; otherwise a ValidationError (code E_CONFIG) naming
 * every bad entry, e.g. `errorClasses.ConflictError`, thrown as the app's ValidationError when that
 * one is valid. Caught here, at construction, rather than as a TypeError at the first conflict.
 */
function resolveErrorClasses(injected) {
  if (injected == null) return defaultErrorClasses
  if (typeof injected !== 'object' || Array.isArray(injected)) {
    throw configError(ValidationError, ['errorClasses'], 'invalid option `errorClasses`: expected an object of classes')
  }
  const classes = { ...defaultErrorClasses }
  const fields = []
  const reasons = []
  for (const name of Object.keys(defaultErrorClasses)) {
    const given = injected[name]
    if (given == null) continue
    const problem = errorClassProblem(given)
    if (problem === null) {
      classes[name] = given
    } else {
      fields.push(`errorClasses.${name}`)
      reasons.push(`invalid option \`errorClasses.${name}\`: ${problem}`)
    }
  }
  if (fields.length > 0) throw configError(classes.ValidationError, fields, reasons.join('; '))
  return Object.freeze(classes)
}

function configError(ValidationClass, fields, message) {
  const error = new ValidationClass(message, fields)
  decorate(error, 'code', 'E_CONFIG')
  return error
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

/** A ValidationError (app's class where injected) naming `field`, with `code` (default E_VALIDATION). */
function invalid(classes, message, field, code = 'E_VALIDATION') {
  const error = new classes.ValidationError(message, [field])
  decorate(error, 'code', code)
  return error
}

module.exports = {
  StorageError,
  ConflictError,
  ValidationError,
  NotFoundError,
  resolveErrorClasses,
  fromNative,
  invalid,
}
