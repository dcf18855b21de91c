// Sends events to Symbiont with RudderStack's Node.js SDK, @rudderstack/rudder-sdk-node, as a
// brand's backend would, with the SDK's default settings (gzip on) except for shorter flush
// timers. Run by rudder_node_test.go:
//
//   SDK_NODE_DIR   directory whose node_modules holds @rudderstack/rudder-sdk-node
//   SYMBIONT_HOST  http://127.0.0.1:PORT (the SDK's dataPlaneUrl)
//   WRITE_KEY      the brand's write key
//   E2E_FIXTURE    JSON: {userId, anonymousId, groupId, traits, order, order2, page, screen, group, context, later}
//
// It prints one JSON object: each call's outcome as the SDK's callback reported it
// ({type, error}). The SDK's callback gets the request body, gzip-compressed, so the messageIds
// it generated are read from the wire by the test's recording proxy instead.
import { createRequire } from 'node:module'
import path from 'node:path'

const require = createRequire(path.join(process.env.SDK_NODE_DIR, 'package.json'))
const Analytics = require('@rudderstack/rudder-sdk-node')

const fx = JSON.parse(process.env.E2E_FIXTURE)
const out = { calls: [] }

function client(flushAt) {
  return new Analytics(process.env.WRITE_KEY, {
    dataPlaneUrl: process.env.SYMBIONT_HOST,
    flushAt,
    flushInterval: 200,
    retryCount: 2,
    timeout: 10000,
  })
}

// call makes one SDK call and resolves once the SDK reports its batch delivered (or failed).
function call(c, type, message) {
  return new Promise((resolve) => {
    c[type](message, (err) => {
      out.calls.push({ type, error: err ? String(err.message || err) : null })
      resolve()
    })
  })
}

function within(ms, promise) {
  let timer
  const late = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`not delivered within ${ms} ms`)), ms) })
  return Promise.race([promise, late]).finally(() => clearTimeout(timer))
}

// Phase 1: one of each call, in batches of four.
const a = client(4)
await within(20000, Promise.all([
  call(a, 'identify', { userId: fx.userId, traits: fx.traits }),
  call(a, 'track', { userId: fx.userId, event: 'Order Completed', properties: fx.order }),
  call(a, 'page', { userId: fx.userId, category: fx.page.category, name: fx.page.name, properties: fx.page.properties }),
  call(a, 'screen', { userId: fx.userId, name: fx.screen.name, properties: fx.screen.properties }),
  call(a, 'group', { userId: fx.userId, groupId: fx.groupId, traits: fx.group }),
  call(a, 'track', { userId: fx.userId, event: 'Order Completed', properties: fx.order2, context: fx.context }),
  call(a, 'alias', { userId: fx.userId, previousId: fx.anonymousId }),
]))

// Phase 2, after the alias is settled: an event known only by the aliased anonymous id.
const b = client(15)
await within(20000, call(b, 'track', { anonymousId: fx.anonymousId, event: 'Order Completed', properties: fx.later }))

process.stdout.write(JSON.stringify(out) + '\n')
