"""Human output with rich, one module per view: safe.py (the escaping Table and Console every view prints
through), summary, ledger, waiting (re-auth, set aside), changes, status, webhooks, loan and loan_history
(`loans show`), loans (`loans list`)."""
