// Sends events to Symbiont with Segment's own Node.js library, @segment/analytics-node, as a
// brand's backend would. Run by segment_node_test.go:
//
//   SEGMENT_NODE_DIR  directory whose node_modules holds @segment/analytics-node
//   SYMBIONT_HOST     http://127.0.0.1:PORT
//   WRITE_KEY         the brand's write key
//   E2E_FIXTURE       JSON: {userId, anonymousId, groupId, traits, order, order2, page, screen, group, context, later}
//
// It prints one JSON object: the library version, every event the library reports delivered
// (its own 'identify', 'track', … emitter events, with the messageIds it generated), every HTTP
// request it made (the exact bodies), and any errors.
import { createRequire } from 'node:module'
import path from 'node:path'

const require = createRequire(path.join(process.env.SEGMENT_NODE_DIR, 'package.json'))
const { Analytics } = require('@segment/analytics-node')

const fx = JSON.parse(process.env.E2E_FIXTURE)
const out = { version: null, delivered: [], requests: [], errors: [] }

function client(flushAt) {
  const analytics = new Analytics({
    writeKey: process.env.WRITE_KEY,
    host: process.env.SYMBIONT_HOST,
    path: '/v1/batch',
    flushAt,
    flushInterval: 500,
    maxRetries: 2,
    httpRequestTimeout: 10000,
  })
  out.version = analytics.VERSION
  for (const type of ['identify', 'track', 'page', 'screen', 'group', 'alias']) {
    analytics.on(type, (ctx) => out.delivered.push(ctx.event))
  }
  analytics.on('http_request', (req) => {
    out.requests.push({ url: req.url, method: req.method, headers: req.headers, body: JSON.parse(req.body) })
  })
  analytics.on('error', (err) => {
    out.errors.push({ code: err.code, reason: String(err.reason), messageId: err.ctx?.event?.messageId ?? null })
  })
  return analytics
}

// Phase 1: one of each call, in batches of four.
const a = client(4)
a.identify({ userId: fx.userId, traits: fx.traits })
a.track({ userId: fx.userId, event: 'Order Completed', properties: fx.order })
a.page({ userId: fx.userId, category: fx.page.category, name: fx.page.name, properties: fx.page.properties })
a.screen({ userId: fx.userId, name: fx.screen.name, properties: fx.screen.properties })
a.group({ userId: fx.userId, groupId: fx.groupId, traits: fx.group })
a.track({ userId: fx.userId, event: 'Order Completed', properties: fx.order2, context: fx.context })
a.alias({ userId: fx.userId, previousId: fx.anonymousId })
await a.closeAndFlush({ timeout: 20000 })

// Phase 2, after the alias is settled: an event known only by the aliased anonymous id.
const b = client(15)
b.track({ anonymousId: fx.anonymousId, event: 'Order Completed', properties: fx.later })
await b.closeAndFlush({ timeout: 20000 })

process.stdout.write(JSON.stringify(out) + '\n')
