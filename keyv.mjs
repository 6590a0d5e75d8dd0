// ESM entry of the Keyv store: the same export as the CommonJS entry (keyv.js).
import store from './keyv.js'

export const { KeyvPostgresStore } = store
