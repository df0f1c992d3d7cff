"""``cryptopulse doctor``: the troubleshooting guide as checks that find the fault and say the fix.

:mod:`.report` holds the result types and their text and JSON forms, :mod:`.runner` runs checks
in flow order with a timeout each, :mod:`.local` checks the local pipeline, :mod:`.kube_checks`
judges the objects of a Kubernetes release (pure functions) and :mod:`.kube` reads them.
"""
