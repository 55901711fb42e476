import { ScouterQueueError } from './errors'

/**
 * Items are encoded once, when they are built, in the insert encoding the core reads: one JSON
 * object of `name: value` (for `Features.from`, `JSON.stringify` of the object itself). An insert then
 * moves one string into Rust, and decoding happens on the queue's threads, not on yours.
 * Kinds follow the values (an integer token is an int, a fraction or exponent a float); where plain
 * JSON cannot say it, the value is stated as `{"Int"|"Float"|"String": value}`.
 */

const quoted = new Map<string, string>()
const MAX_CACHED_NAMES = 10_000

/** JSON text of a name; names repeat, so the quoting is cached. */
function quote(name: string): string {
  let text = quoted.get(name)
  if (text === undefined) {
    text = JSON.stringify(name)
    if (quoted.size < MAX_CACHED_NAMES) quoted.set(name, text)
  }
  return text
}

const MIN_I64 = -(2n ** 63n)
const MAX_I64 = 2n ** 63n - 1n

/** How the core spells the floats JSON has no number for. */
function nonFinite(value: number): string {
  return Number.isNaN(value) ? 'NaN' : value > 0 ? 'inf' : '-inf'
}

/** A float's JSON token; an integral float keeps a `.0` so it stays a float, NaN and infinities are stated. */
function floatValue(value: number): string {
  if (!Number.isFinite(value)) return `{"Float":"${nonFinite(value)}"}`
  const text = String(value)
  return Number.isInteger(value) && !text.includes('e') ? text + '.0' : text
}

/** An int's JSON token; beyond 2^53 it is stated as decimal text, which JSON numbers cannot carry exactly. */
function intValue(value: number | bigint): string {
  return typeof value === 'bigint' ? `{"Int":"${value}"}` : String(value)
}

function invalid(message: string): never {
  throw new ScouterQueueError('ERR_INVALID_ITEM', message)
}

function checkName(name: unknown, what: string): asserts name is string {
  if (typeof name !== 'string' || name.length === 0) invalid(`${what} name must be a non-empty string, got ${typeof name}`)
}

/** The entries of an object, encoded as one JSON object. */
function object(pairs: readonly { encoded: string }[]): string {
  let encoded = '{'
  for (let i = 0; i < pairs.length; i++) encoded += (i === 0 ? '' : ',') + pairs[i].encoded
  return encoded + '}'
}

/** The kind of a feature's value. */
export type FeatureKind = 'int' | 'float' | 'string'

/**
 * One named value of a model's input. Build it with `Feature.int`, `Feature.float` or `Feature.string`.
 * @example
 * new Features([Feature.int('age', 42), Feature.float('income', 5100.5), Feature.string('state', 'CA')])
 */
export class Feature {
  /** @internal The feature as a `"name":value` pair of the insert encoding. */
  readonly encoded: string

  private constructor(
    /** The kind of the value. */
    readonly kind: FeatureKind,
    /** The feature's name. */
    readonly name: string,
    /** The value: a number for `int` and `float` (a bigint for an int beyond 2^53), a string for `string`. */
    readonly value: number | bigint | string,
    encoded: string,
  ) {
    this.encoded = encoded
  }

  /** An integer feature; `value` must be an integer (a bigint within 64 bits is accepted). */
  static int(name: string, value: number | bigint): Feature {
    checkName(name, 'a feature')
    if (typeof value === 'bigint') {
      if (value < MIN_I64 || value > MAX_I64) invalid(`feature '${name}': ${value} does not fit in 64 bits`)
    } else if (!Number.isSafeInteger(value)) {
      invalid(`feature '${name}': Feature.int needs a safe integer, got ${String(value)}`)
    }
    return new Feature('int', name, value, `${quote(name)}:${intValue(value)}`)
  }

  /** A floating-point feature. NaN and infinities are kept (drift aggregation skips and counts them). */
  static float(name: string, value: number): Feature {
    checkName(name, 'a feature')
    if (typeof value !== 'number') invalid(`feature '${name}': Feature.float needs a number, got ${typeof value}`)
    return new Feature('float', name, value, `${quote(name)}:${floatValue(value)}`)
  }

  /** A string feature (a category). */
  static string(name: string, value: string): Feature {
    checkName(name, 'a feature')
    if (typeof value !== 'string') invalid(`feature '${name}': Feature.string needs a string, got ${typeof value}`)
    return new Feature('string', name, value, `${quote(name)}:${JSON.stringify(value)}`)
  }
}

/**
 * The features of one prediction, inserted into a queue whose profile monitors features (Psi, Spc).
 * @example
 * queue.get('credit').insert(Features.from({ age: 42, income: 5100.5, state: 'CA' }))
 */
export class Features {
  /** @internal The features in the insert encoding, built once. */
  readonly encoded: string
  // A plain private field, not `#`: `from` builds instances without the constructor.
  private list: readonly Feature[] | undefined

  /** Features from a list built with `Feature.int/float/string`. */
  constructor(features: readonly Feature[]) {
    if (!Array.isArray(features)) invalid('new Features() takes an array of Feature')
    for (let i = 0; i < features.length; i++) {
      if (!(features[i] instanceof Feature)) invalid(`new Features(): element ${i} is not a Feature`)
    }
    this.list = features.slice()
    this.encoded = object(features)
  }

  /**
   * Features from a plain object: safe integers become `int`, other numbers `float`, strings `string`,
   * booleans `int` (0 or 1), bigints `int`; `null` and `undefined` are skipped. Anything else is a
   * `TypeError` naming the key.
   */
  static from(values: Record<string, number | bigint | string | boolean | null | undefined>): Features {
    if (values === null || typeof values !== 'object') throw new TypeError('Features.from() takes a plain object')
    for (const name in values) {
      const value = values[name]
      switch (typeof value) {
        case 'string':
        case 'boolean':
        case 'undefined':
          continue
        case 'number':
          if (Number.isFinite(value)) continue
          break
        case 'object':
          if (value === null) continue
      }
      // Something JSON.stringify would not write as the core reads it: go feature by feature.
      return Features.#fromEach(values)
    }
    return Features.#encoded(JSON.stringify(values))
  }

  static #fromEach(values: Record<string, unknown>): Features {
    const features: Feature[] = []
    for (const name in values) {
      const value = values[name]
      switch (typeof value) {
        case 'number':
          features.push(Number.isSafeInteger(value) ? Feature.int(name, value) : Feature.float(name, value))
          break
        case 'bigint':
          features.push(Feature.int(name, value))
          break
        case 'string':
          features.push(Feature.string(name, value))
          break
        case 'boolean':
          features.push(Feature.int(name, value ? 1 : 0))
          break
        case 'undefined':
          break
        default:
          if (value !== null) throw new TypeError(`Features.from(): '${name}' is ${typeof value}; use a number, bigint, string or boolean`)
      }
    }
    return new Features(features)
  }

  static #encoded(encoded: string): Features {
    const features = Object.create(Features.prototype) as Features
    ;(features as { encoded: string }).encoded = encoded
    return features
  }

  /** The features, as `Feature` objects (for `Features.from`, kinds as `from` assigns them). */
  get features(): readonly Feature[] {
    this.list ??= Features.#fromEach(JSON.parse(this.encoded)).features
    return this.list
  }

  /** Always `'Feature'`, as Scouter names it. */
  get entityType(): 'Feature' {
    return 'Feature'
  }
}

/**
 * One named measurement, inserted within `Metrics` into a queue with a Custom profile.
 * The name is lower-cased, as Scouter does.
 */
export class Metric {
  /** The metric's name, lower-cased. */
  readonly name: string
  /** The value. */
  readonly value: number
  /** @internal The metric as a `"name":value` pair of the insert encoding. */
  readonly encoded: string

  constructor(name: string, value: number) {
    checkName(name, 'a metric')
    if (typeof value !== 'number') invalid(`metric '${name}': the value must be a number, got ${typeof value}`)
    this.name = name.toLowerCase()
    this.value = value
    this.encoded = `${quote(this.name)}:${Number.isFinite(value) ? value : `"${nonFinite(value)}"`}`
  }
}

/**
 * A set of metrics, inserted into a queue whose profile is Custom.
 * @example
 * queue.get('quality').insert(new Metrics([new Metric('mape', 1.0), new Metric('mae', 2.0)]))
 */
export class Metrics {
  /** The metrics. */
  readonly metrics: readonly Metric[]
  /** @internal The metrics in the insert encoding, built once. */
  readonly encoded: string

  constructor(metrics: readonly Metric[]) {
    if (!Array.isArray(metrics)) invalid('new Metrics() takes an array of Metric')
    for (let i = 0; i < metrics.length; i++) {
      if (!(metrics[i] instanceof Metric)) invalid(`new Metrics(): element ${i} is not a Metric`)
    }
    this.metrics = metrics.slice()
    this.encoded = object(metrics)
  }

  /** Metrics from a plain object of numbers; anything else is a `TypeError` naming the key. */
  static from(values: Record<string, number>): Metrics {
    if (values === null || typeof values !== 'object') throw new TypeError('Metrics.from() takes a plain object')
    const metrics: Metric[] = []
    for (const name in values) {
      const value = values[name]
      if (typeof value !== 'number') throw new TypeError(`Metrics.from(): '${name}' is ${typeof value}; use a number`)
      metrics.push(new Metric(name, value))
    }
    return new Metrics(metrics)
  }

  /** Always `'Metric'`, as Scouter names it. */
  get entityType(): 'Metric' {
    return 'Metric'
  }
}
