"""Records: Flex sync and import, reconciliation, commissions and net P&L.

Importing this package is cheap; `ibflex` is imported only inside the functions that parse
or download statements.
"""
