"""Pairwise ratings: battles, Elo, Bradley-Terry (with ties, weights, style control),
honest intervals (bootstrap, sandwich), robustness audits and LLM judges.

Modules: `battles` (reading and validating votes), `cells` (deduplication), `elo`,
`bradley_terry`, `ties` (Davidson, Rao-Kupper, Newman), `sampling` and `bootstrap`,
`uncertainty` (sandwich covariance, intervals, ranks), `style` and `contextual` (style
control), `robustness`, `judges`, `lc_winrate`, `agreement`, `judge_report`, `ranking`
(the `lmaudit arena rank` pipeline), `leaderboard`, `plots`, `export`, `simulate`.
"""
