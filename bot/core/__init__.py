"""The pure contract under everything: types, forms, i18n, settings, clock, text helpers and
the Channel protocol. Imports nothing from storage, dispatch, handlers, runtime or channels."""
