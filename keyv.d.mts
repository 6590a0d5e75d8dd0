// Types of the Keyv store's ESM entry (keyv.mjs, the `import` condition): the same as the CommonJS
// entry's, declared as an ES module so TypeScript's node16/nodenext resolution types `import` as ESM.
export * from './keyv.js'
