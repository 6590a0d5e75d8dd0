// Types of the ESM entry (index.mjs, the `import` condition): the same public API as the CommonJS
// entry, declared as an ES module so TypeScript's node16/nodenext resolution types `import` as ESM.
export * from './index.js'
