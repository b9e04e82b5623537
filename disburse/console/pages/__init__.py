"""The console's pages: one module per page, each with a FastAPI `router` that app.py includes
(app.PAGES lists them). Every route depends on `auth.current_viewer`; a route about one program
checks `auth.require_program` (404 for a program the viewer may not see)."""
