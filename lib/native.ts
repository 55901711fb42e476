// The generated loader picks the local build or the installed platform package.
export * from '../native/index.js'
