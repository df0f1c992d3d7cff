"""``cryptopulse doctor``: the troubleshooting guide as checks that find the fault and say the fix.

:mod:`.report` holds the result types and their text and JSON forms, :mod:`.runner` runs checks
in flow order with a timeout each. The local pipeline: :mod:`.target` (where it is, what the
checks share), :mod:`.machine` (processes on its ports, jars), :mod:`.flow` (source, Kafka,
producer), :mod:`.stream`, :mod:`.serving` (API, WebSocket, dashboard), read through
:mod:`.probes` and listed in order by :mod:`.local`. A Kubernetes release: :mod:`.kube_checks`
judges its objects (pure functions), :mod:`.kube` reads them. docs/doctor.md has the list.
"""
