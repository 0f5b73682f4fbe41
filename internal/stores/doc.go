// Package stores holds the typed state stores processors see, over the
// byte-level stores beneath them: the typed key-value store over a
// processor.BytesKeyValueStore, and the typed window and session stores
// over the window and session layouts (engine.BytesWindowStore,
// engine.BytesSessionStore) that package changelog implements. Package
// topology wraps each task's opened stores with them; users see only the
// processor interfaces.
package stores
