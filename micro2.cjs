const { NativeAdapter } = require('./native.js')
;(async () => {
  const ad = new NativeAdapter(JSON.stringify({host:'127.0.0.1', database:'smalltalk_test'}))
  await ad.initialize(null)
  for (let r = 0; r < 20; r++) {
    const ps = []
    for (let i = 0; i < 2000; i++) ps.push(ad.hasValue('k').catch(()=>{}))
    await Promise.all(ps)
  }
  ad.close()
})()
