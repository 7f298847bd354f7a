"""The imperative shell: each module reads the clock, reads and writes through `store`, calls Truv through
`truv`, and leaves the rules to pure `core`.

A pass of a job is `refresh_pass` (lease, heartbeat, workers, summary) over `refresh_one` (one loan:
details, choice, reservation, POST, record); `plan` is the same choice, read-only. Settling what was
sent is `outcomes`; income monitoring is `monitoring`; hand-offs to the lender are `notify`.
"""
