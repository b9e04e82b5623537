"""What the console's detail pages show, read from the index: one module per page, each a set of
pure functions over a SQLAlchemy Connection (or `IndexQueries`) returning frozen view models.

The pages (`disburse.console.pages`) only check who may see what, call these, and render; so
every figure a page shows can be held equal to the index in a unit test without HTTP. Amounts
stay exact integers in base units with their token's facts beside them: the templates format
them (`money`), never these modules.
"""
