"""OAI-PMH 2.0 data provider over the same rows the ResourceSync documents are built from.

Pure parts: `arguments` (request validation), `tokens` (signed resumption tokens), `sets` (set
specs), `render` (XML). I/O: `repository` (queries), `secret` (the signing key), `verbs` (one
function per verb, tying them together). The route is `app/routes/oai.py`.
"""
