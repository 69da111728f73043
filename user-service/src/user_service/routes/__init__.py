"""HTTP entrypoints: each route translates HTTP into one service call and shapes the answer."""
