import { ScouterQueueError } from './errors'

/**
 * Items are encoded once, when they are built, in Scouter's own JSON shape
 * (`{"Int":{"name":"age","value":42}}`): an insert then moves one string into
 * Rust, and the decoding happens on the queue's threads, not on yours.
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

/** JSON has no NaN or infinities; the core reads these strings back as them. */
function encodeFloat(value: number): string {
  if (Number.isFinite(value)) return String(value)
  if (Number.isNaN(value)) return '"NaN"'
  return value > 0 ? '"inf"' : '"-inf"'
}

function invalid(message: string): never {
  throw new ScouterQueueError('ERR_INVALID_ITEM', message)
}

function checkName(name: unknown, what: string): asserts name is string {
  if (typeof name !== 'string' || name.length === 0) invalid(`${what} name must be a non-empty string, got ${typeof name}`)
}

/** The kind of a feature's value. */
export type FeatureKind = 'int' | 'float' | 'string'

/**
 * One named value of a model's input. Build it with `Feature.int`, `Feature.float` or `Feature.string`.
 * @example
 * new Features([Feature.int('age', 42), Feature.float('income', 5100.5), Feature.string('state', 'CA')])
 */
export class Feature {
  /** @internal The feature in Scouter's JSON shape. */
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
    return new Feature('int', name, value, `{"Int":{"name":${quote(name)},"value":${value}}}`)
  }

  /** A floating-point feature. NaN and infinities are kept (drift aggregation skips and counts them). */
  static float(name: string, value: number): Feature {
    checkName(name, 'a feature')
    if (typeof value !== 'number') invalid(`feature '${name}': Feature.float needs a number, got ${typeof value}`)
    return new Feature('float', name, value, `{"Float":{"name":${quote(name)},"value":${encodeFloat(value)}}}`)
  }

  /** A string feature (a category). */
  static string(name: string, value: string): Feature {
    checkName(name, 'a feature')
    if (typeof value !== 'string') invalid(`feature '${name}': Feature.string needs a string, got ${typeof value}`)
    return new Feature('string', name, value, `{"String":{"name":${quote(name)},"value":${JSON.stringify(value)}}}`)
  }
}

/**
 * The features of one prediction, inserted into a queue whose profile monitors features (Psi, Spc).
 * @example
 * queue.get('credit').insert(Features.from({ age: 42, income: 5100.5, state: 'CA' }))
 */
export class Features {
  /** @internal The features as one JSON array, built once. */
  readonly encoded: string
  // A plain private field, not `#`: `from` builds instances without the constructor.
  private parsed: readonly Feature[] | undefined

  /** Features from a list built with `Feature.int/float/string`. */
  constructor(features: readonly Feature[]) {
    if (!Array.isArray(features)) invalid('new Features() takes an array of Feature')
    let encoded = '['
    for (let i = 0; i < features.length; i++) {
      const feature = features[i]
      if (!(feature instanceof Feature)) invalid(`new Features(): element ${i} is not a Feature`)
      encoded += (i === 0 ? '' : ',') + feature.encoded
    }
    this.encoded = encoded + ']'
    this.parsed = features.slice()
  }

  /**
   * Features from a plain object: integers become `int`, other numbers `float`, strings `string`,
   * booleans `int` (0 or 1); `null` and `undefined` are skipped. Anything else is a `TypeError` naming the key.
   */
  static from(values: Record<string, number | bigint | string | boolean | null | undefined>): Features {
    if (values === null || typeof values !== 'object') throw new TypeError('Features.from() takes a plain object')
    let encoded = '['
    let first = true
    for (const name in values) {
      const value = values[name]
      let feature: string
      switch (typeof value) {
        case 'number':
          feature = Number.isSafeInteger(value)
            ? `{"Int":{"name":${quote(name)},"value":${value}}}`
            : `{"Float":{"name":${quote(name)},"value":${encodeFloat(value)}}}`
          break
        case 'string':
          feature = `{"String":{"name":${quote(name)},"value":${JSON.stringify(value)}}}`
          break
        case 'boolean':
          feature = `{"Int":{"name":${quote(name)},"value":${value ? 1 : 0}}}`
          break
        case 'bigint':
          feature = Feature.int(name, value).encoded
          break
        case 'undefined':
          continue
        default:
          if (value === null) continue
          throw new TypeError(`Features.from(): '${name}' is ${typeof value}; use a number, bigint, string or boolean`)
      }
      encoded += first ? feature : ',' + feature
      first = false
    }
    return Features.#fromEncoded(encoded + ']')
  }

  static #fromEncoded(encoded: string): Features {
    const features = Object.create(Features.prototype) as Features
    ;(features as { encoded: string }).encoded = encoded
    return features
  }

  /** The features, as `Feature` objects. */
  get features(): readonly Feature[] {
    this.parsed ??= (JSON.parse(this.encoded) as Record<string, { name: string; value: unknown }>[]).map((tagged) => {
      const [[tag, { name, value }]] = Object.entries(tagged)
      if (tag === 'Int') return Feature.int(name, value as number)
      if (tag === 'Float') return Feature.float(name, decodeFloat(value))
      return Feature.string(name, value as string)
    })
    return this.parsed
  }

  /** Always `'Feature'`, as Scouter names it. */
  get entityType(): 'Feature' {
    return 'Feature'
  }
}

function decodeFloat(value: unknown): number {
  if (value === 'NaN') return NaN
  if (value === 'inf') return Infinity
  if (value === '-inf') return -Infinity
  return value as number
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
  /** @internal The metric in Scouter's JSON shape. */
  readonly encoded: string

  constructor(name: string, value: number) {
    checkName(name, 'a metric')
    if (typeof value !== 'number') invalid(`metric '${name}': the value must be a number, got ${typeof value}`)
    this.name = name.toLowerCase()
    this.value = value
    this.encoded = `{"name":${quote(this.name)},"value":${encodeFloat(value)}}`
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
  /** @internal The metrics as one JSON array, built once. */
  readonly encoded: string

  constructor(metrics: readonly Metric[]) {
    if (!Array.isArray(metrics)) invalid('new Metrics() takes an array of Metric')
    let encoded = '['
    for (let i = 0; i < metrics.length; i++) {
      const metric = metrics[i]
      if (!(metric instanceof Metric)) invalid(`new Metrics(): element ${i} is not a Metric`)
      encoded += (i === 0 ? '' : ',') + metric.encoded
    }
    this.encoded = encoded + ']'
    this.metrics = metrics.slice()
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
