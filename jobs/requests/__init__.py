"""Carrying out data-subject requests (docs/requests-execution.md).

    RequestRunner(ledger, connector, policy, settings, clock).run(request_id) -> RunReport
    RequestRunner(...).run_queued()                                           # the scheduler job `requests`

`locate` finds the subjects a request covers, `erasure`, `rectification` and `restriction` carry
out each type, `facts` is what the certificate states; access and portability are handed to
`export.build_export`.
"""
