// Types of the Prometheus entry's ESM face (prometheus.mjs, the `import` condition): the same API
// as the CommonJS one, declared as an ES module so node16/nodenext resolution types `import` as ESM.
export * from './prometheus.js'
