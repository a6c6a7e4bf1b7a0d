"""Lifecycles: helper processes that die with their parent (tether), who a pid really is
(identity), and files that outlive whoever wrote them until ``onepipe gc`` (sharedlock, swept).

Standard library only, importing nothing else of onepipe: every layer may use it.
"""
