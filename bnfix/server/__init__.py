"""`bnfix server`: the language server (LSP over stdio) that puts findings and their fixes in any editor.

Layers, bottom up: `targets` (an editor document, or a notebook's code cells, as the one module the engine sees),
`analysis` (engine results placed back in those documents), `lsp_types` (the LSP diagnostics and edits they
become), `client_settings` (what the editor may set), `scheduler` (debounced work off the event loop) and `server`
(the pygls handlers). pygls and lsprotocol are an optional extra: `pip install 'bnfix[server]'`.
"""
