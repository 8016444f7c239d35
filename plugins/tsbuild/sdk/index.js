// The module that stands in for "@tailor-platform/sdk" when execvault
// bundles TypeScript executors. It provides the executor and trigger helpers
// of that SDK and returns plain definitions that the execvault JavaScript
// engine reads when it builds the plugin manifest:
//
//   executor: { name, description?, disabled?, trigger, operation }
//   trigger:  { kind: "record", typeName, events, condition? }
//             { kind: "schedule", cron, timezone?, condition? }
//             { kind: "incomingWebhook", token?, response?, condition? }
//
// Every helper checks its options and throws a TypeError naming the helper
// and the property, so a mistake fails the build's check or the plugin load
// instead of changing what fires.

const RECORD_EVENTS = ["created", "updated", "deleted"];

function describe(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  const type = typeof value;
  if (type === "undefined") return "undefined";
  return (/^[aeiou]/.test(type) ? "an " : "a ") + type;
}

function checkOptions(helper, options, allowed) {
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw new TypeError(`${helper}: options is ${describe(options)}, expected an object`);
  }
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) {
      throw new TypeError(`${helper}: unknown option "${key}": use ${allowed.join(", ")}`);
    }
  }
}

// typeNameOf accepts a TailorDB type (any object with a non-empty string
// name, such as the value a tailordb file exports) or the type name itself.
function typeNameOf(helper, type) {
  if (typeof type === "string" && type !== "") return type;
  if (type !== null && typeof type === "object" && typeof type.name === "string" && type.name !== "") {
    return type.name;
  }
  throw new TypeError(`${helper}: type is ${describe(type)}, expected a TailorDB type or a type name`);
}

function checkCondition(helper, condition) {
  if (condition !== undefined && typeof condition !== "function") {
    throw new TypeError(`${helper}: condition is ${describe(condition)}, expected a function returning a boolean`);
  }
}

function withCondition(trigger, condition) {
  if (condition !== undefined) trigger.condition = condition;
  return trigger;
}

function singleEventTrigger(helper, event, options) {
  checkOptions(helper, options, ["type", "condition"]);
  checkCondition(helper, options.condition);
  return withCondition(
    { kind: "record", typeName: typeNameOf(helper, options.type), events: [event] },
    options.condition,
  );
}

/** Fires when a record of the given type is created. */
export function recordCreatedTrigger(options) {
  return singleEventTrigger("recordCreatedTrigger", "created", options);
}

/** Fires when a record of the given type is updated. */
export function recordUpdatedTrigger(options) {
  return singleEventTrigger("recordUpdatedTrigger", "updated", options);
}

/** Fires when a record of the given type is deleted. */
export function recordDeletedTrigger(options) {
  return singleEventTrigger("recordDeletedTrigger", "deleted", options);
}

/**
 * Fires on several record events of one type. Callbacks receive `event`
 * ("created", "updated" or "deleted") and `rawEvent` (the platform's event
 * type, such as "tailordb.type_record.created") besides the record fields.
 */
export function recordTrigger(options) {
  const helper = "recordTrigger";
  checkOptions(helper, options, ["type", "events", "condition"]);
  checkCondition(helper, options.condition);
  const events = options.events;
  if (!Array.isArray(events) || events.length === 0) {
    throw new TypeError(`${helper}: events is ${describe(events)}, expected a non-empty array of "created", "updated" or "deleted"`);
  }
  for (const event of events) {
    if (!RECORD_EVENTS.includes(event)) {
      throw new TypeError(`${helper}: unknown event ${JSON.stringify(event)}: use "created", "updated" or "deleted"`);
    }
  }
  return withCondition(
    { kind: "record", typeName: typeNameOf(helper, options.type), events: [...new Set(events)] },
    options.condition,
  );
}

/** Fires on a five-field cron schedule in an IANA time zone (UTC by default). */
export function scheduleTrigger(options) {
  const helper = "scheduleTrigger";
  checkOptions(helper, options, ["cron", "timezone", "condition"]);
  checkCondition(helper, options.condition);
  if (typeof options.cron !== "string" || options.cron.trim() === "") {
    throw new TypeError(`${helper}: cron is ${describe(options.cron)}, expected a five-field cron spec such as "0 * * * *"`);
  }
  if (options.timezone !== undefined && typeof options.timezone !== "string") {
    throw new TypeError(`${helper}: timezone is ${describe(options.timezone)}, expected an IANA zone name such as "Asia/Tokyo"`);
  }
  const trigger = { kind: "schedule", cron: options.cron };
  if (options.timezone !== undefined) trigger.timezone = options.timezone;
  return withCondition(trigger, options.condition);
}

/**
 * Fires on an HTTP request to the executor's webhook URL. `token` names the
 * secret { vault, key } that the request path must carry; `response` is the
 * reply, 204 with no body by default.
 */
export function incomingWebhookTrigger(options = {}) {
  const helper = "incomingWebhookTrigger";
  checkOptions(helper, options, ["token", "response", "condition"]);
  checkCondition(helper, options.condition);
  const trigger = { kind: "incomingWebhook" };
  if (options.token !== undefined) trigger.token = options.token;
  if (options.response !== undefined) trigger.response = options.response;
  return withCondition(trigger, options.condition);
}

/**
 * Returns the executor definition unchanged after checking that it is an
 * object with a name. The engine checks every other property when the
 * plugin loads and names the file and the property in its errors.
 */
export function createExecutor(definition) {
  if (definition === null || typeof definition !== "object" || Array.isArray(definition)) {
    throw new TypeError(`createExecutor: definition is ${describe(definition)}, expected an object`);
  }
  if (typeof definition.name !== "string" || definition.name === "") {
    throw new TypeError(`createExecutor: name is ${describe(definition.name)}, expected the executor name`);
  }
  return definition;
}

// chain returns a value on which any property is a method returning the
// same value, which covers field builders such as db.string().index().
function chain(target) {
  const proxy = new Proxy(target, {
    get(object, key) {
      if (typeof key === "symbol" || key in object) return object[key];
      return () => proxy;
    },
  });
  return proxy;
}

/**
 * A minimal stand-in for the SDK's TailorDB schema builder, so that type
 * files written for the platform bundle unchanged. db.type(name, fields)
 * returns an object whose name is the type name; every field builder and
 * modifier is accepted and ignored, because executors need only the name.
 */
export const db = chain({
  type(name, fields) {
    // The platform also accepts [singular, plural]; the singular is the name.
    if (Array.isArray(name)) name = name[0];
    if (typeof name !== "string" || name === "") {
      throw new TypeError(`db.type: name is ${describe(name)}, expected the type name`);
    }
    return chain({ name, fields });
  },
});
