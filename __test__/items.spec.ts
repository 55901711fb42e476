import test from 'ava'

import { Feature, Features, Metric, Metrics, ScouterQueueError } from '../lib'

test('Features.from maps integers, floats, strings and booleans, and skips null and undefined', (t) => {
  const features = Features.from({ age: 42, income: 5100.5, state: 'CA', member: true, spare: null, gone: undefined })
  t.deepEqual(
    features.features.map((f) => [f.kind, f.name, f.value]),
    [
      ['int', 'age', 42],
      ['float', 'income', 5100.5],
      ['string', 'state', 'CA'],
      ['int', 'member', 1],
    ],
  )
  t.is(features.entityType, 'Feature')
})

test('Features.from takes bigints and non-finite numbers feature by feature', (t) => {
  const features = Features.from({ big: 2n ** 60n, nan: NaN, n: 1 })
  t.deepEqual(
    features.features.map((f) => [f.kind, f.name]),
    [
      ['int', 'big'],
      ['float', 'nan'],
      ['int', 'n'],
    ],
  )
  t.is(features.encoded, `{"big":{"Int":"${2n ** 60n}"},"nan":{"Float":"NaN"},"n":1}`)
})

test('Features.from names the key of a value it cannot take', (t) => {
  const error = t.throws(() => Features.from({ age: 1, nested: { a: 1 } as any }), { instanceOf: TypeError })
  t.regex(error!.message, /'nested' is object/)
})

test('Feature constructors check their values with a typed error', (t) => {
  const error = t.throws(() => Feature.int('age', 4.5), { instanceOf: ScouterQueueError })
  t.is(error!.code, 'ERR_INVALID_ITEM')
  t.throws(() => Feature.float('x', 'a' as any), { instanceOf: ScouterQueueError })
  t.throws(() => Feature.string('', 'a'), { instanceOf: ScouterQueueError })
  t.throws(() => new Features([{ name: 'x' } as any]), { instanceOf: ScouterQueueError })
  t.is(Feature.int('big', 2n ** 62n).value, 2n ** 62n)
  t.throws(() => Feature.int('big', 2n ** 64n), { instanceOf: ScouterQueueError })
})

test('new Features keeps the features given, names with quotes included', (t) => {
  const list = [Feature.int('a"b', 1), Feature.float('nan', NaN), Feature.string('s', 'line\nbreak')]
  const features = new Features(list)
  t.deepEqual(features.features, list)
  t.is(features.encoded, '{"a\\"b":1,"nan":{"Float":"NaN"},"s":"line\\nbreak"}')
  t.is(new Features([Feature.float('whole', 5100), Feature.float('tiny', 1e-7)]).encoded, '{"whole":5100.0,"tiny":1e-7}')
})

test('Metric lower-cases its name; Metrics.from builds metrics from an object', (t) => {
  t.is(new Metric('MAPE', 1).name, 'mape')
  const metrics = Metrics.from({ MAE: 2, rmse: 3.5 })
  t.deepEqual(
    metrics.metrics.map((m) => [m.name, m.value]),
    [
      ['mae', 2],
      ['rmse', 3.5],
    ],
  )
  t.is(metrics.entityType, 'Metric')
  t.throws(() => Metrics.from({ mae: '2' as any }), { instanceOf: TypeError, message: /'mae'/ })
})
