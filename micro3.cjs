const { NativeAdapter } = require('./native.js')
;(async () => {
  const ad = new NativeAdapter(JSON.stringify({host:'127.0.0.1', database:'smalltalk_test'}))
  await ad.initialize(null)
  const n = 5000
  for (const [name, f] of [['static', () => NativeAdapter.__panicForTests('')], ['instance noop', () => ad.probeInstance()], ['spawn noop', () => ad.probeSpawn()], ['hasValue async fn', () => ad.hasValue('k')], ['hasValue spawn', () => ad.probeSpawnHas('k')]]) {
    for (let r = 0; r < 3; r++) {
      const ps = []
      const t = process.hrtime.bigint()
      for (let i = 0; i < n; i++) ps.push(f())
      const t2 = process.hrtime.bigint()
      await Promise.all(ps)
      const t3 = process.hrtime.bigint()
      if (r == 2) console.log(name.padEnd(20), 'sync', (Number(t2 - t) / n / 1000).toFixed(1), 'us; total', (Number(t3 - t) / n / 1000).toFixed(1), 'us')
    }
  }
  ad.close()
})()
