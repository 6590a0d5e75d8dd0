// `errorClasses` is checked when the adapter is built: each given class must be usable with `new`
// and make Errors. Before, anything of type function was taken, and a bad one surfaced as a
// TypeError at the first conflict (`instanceof` of a non-constructor) instead of SmallTalk's error.
import vm from 'node:vm'
import {
  ConflictError as PackageConflictError,
  PostgresStorageAdapter,
  ValidationError,
} from '@smalltalk-ai/postgres-storage'
import { adapterPerTest, contractConfig, makeSession } from '../helpers.js'
import { ConflictError, NotFoundError, StorageError, ValidationError as AppValidationError } from './errors.js'

const NAMES = ['StorageError', 'ConflictError', 'ValidationError', 'NotFoundError'] as const

/** Values that are not error classes, and what the message says about them. */
const NOT_ERROR_CLASSES: Array<[string, unknown, RegExp]> = [
  ['a number', 42, /expected a class \(got number\)/],
  ['a string', 'ConflictError', /expected a class \(got string\)/],
  ['a plain object', { name: 'ConflictError' }, /expected a class \(got object\)/],
  ['an arrow function', () => new Error('x'), /usable with `new`/],
  ['a method', { make() {} }.make, /usable with `new`/],
  ['an async function', async function make() {}, /usable with `new`/],
  ['a class that does not extend Error', class NotAnError {}, /instances are Errors/],
  ['a function whose prototype is not an Error', function Legacy() {}, /instances are Errors/],
  ['a bound function with no prototype', function Legacy() {}.bind(null), /no prototype to check/],
]

function refusal(errorClasses: unknown): unknown {
  try {
    new PostgresStorageAdapter({ ...contractConfig(), errorClasses: errorClasses as never })
  } catch (error) {
    return error
  }
  return null
}

describe('errorClasses is validated at construction', () => {
  describe.each(NAMES)('errorClasses.%s', (name) => {
    it.each(NOT_ERROR_CLASSES)('refuses %s with a ValidationError naming the field', (_, value, reason) => {
      const error = refusal({ [name]: value })
      expect(error).toBeInstanceOf(ValidationError)
      expect(error).not.toBeInstanceOf(TypeError)
      expect(error).toMatchObject({
        name: 'ValidationError',
        code: 'E_CONFIG',
        invalidFields: [`errorClasses.${name}`],
      })
      expect((error as Error).message).toContain(`\`errorClasses.${name}\``)
      expect((error as Error).message).toMatch(reason)
    })
  })

  it('names every bad entry at once', () => {
    const error = refusal({ ConflictError: 42, NotFoundError: () => null, StorageError })
    expect(error).toBeInstanceOf(ValidationError)
    expect((error as ValidationError).invalidFields).toEqual([
      'errorClasses.ConflictError',
      'errorClasses.NotFoundError',
    ])
    expect((error as Error).message).toMatch(/errorClasses\.ConflictError.*errorClasses\.NotFoundError/)
  })

  it("throws the app's own ValidationError when that one is valid", () => {
    const error = refusal({ ValidationError: AppValidationError, ConflictError: class NotAnError {} })
    expect(error).toBeInstanceOf(AppValidationError)
    expect(error).not.toBeInstanceOf(ValidationError)
    expect((error as AppValidationError).invalidFields).toEqual(['errorClasses.ConflictError'])
    expect((error as { code?: string }).code).toBe('E_CONFIG')
  })

  it('refuses an errorClasses that is not an object of classes', () => {
    for (const value of [[ConflictError], 'ConflictError', 42]) {
      const error = refusal(value)
      expect(error).toBeInstanceOf(ValidationError)
      expect(error).toMatchObject({ code: 'E_CONFIG', invalidFields: ['errorClasses'] })
    }
  })

  it('accepts classes extending Error, function constructors on Error.prototype, Error itself, and other realms', () => {
    function LegacyConflict(this: Error, message: string) {
      this.message = message
    }
    LegacyConflict.prototype = Object.create(Error.prototype)
    const OtherRealm = vm.runInNewContext('(class OtherRealmError extends Error {})')
    expect(refusal({ StorageError, ConflictError, ValidationError: AppValidationError, NotFoundError })).toBeNull()
    expect(refusal({ ConflictError: LegacyConflict })).toBeNull()
    expect(refusal({ StorageError: Error, ValidationError: TypeError })).toBeNull()
    expect(refusal({ ConflictError: OtherRealm })).toBeNull()
    expect(refusal({ ConflictError: undefined, NotFoundError: null })).toBeNull()
  })

  it("checks without running the app's code: no construct or call of the given classes", () => {
    const calls: string[] = []
    const watched = new Proxy(ConflictError, {
      construct(target, args, newTarget) {
        calls.push('construct')
        return Reflect.construct(target, args, newTarget)
      },
      apply() {
        calls.push('apply')
      },
    })
    expect(refusal({ ConflictError: watched })).toBeNull()
    expect(calls).toEqual([])
  })
})

describe('a validated class is the one thrown', () => {
  function LegacyConflict(this: Error & { conflictingVersions?: number[] }, message: string, versions?: number[]) {
    this.message = message
    this.conflictingVersions = versions
  }
  LegacyConflict.prototype = Object.create(Error.prototype, { name: { value: 'ConflictError' } })
  const current = adapterPerTest({ errorClasses: { ConflictError: LegacyConflict as unknown as typeof ConflictError } })

  it('a function-constructor ConflictError comes back from a stale save, with both versions', async () => {
    const session = makeSession({ version: 2 })
    await current().saveSession(session)
    const error = await current()
      .saveSession({ ...session, version: 2 })
      .catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(LegacyConflict)
    expect(error).toBeInstanceOf(Error)
    expect(error).not.toBeInstanceOf(PackageConflictError)
    expect(error).toMatchObject({ name: 'ConflictError', code: 'E_CONFLICT', conflictingVersions: [2, 2] })
  })
})
