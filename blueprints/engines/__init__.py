"""Model engines that several recipes share: scalers and encoders, linear rows, forecasters,
elasticity. Recipes pick and configure them; nothing here knows a blueprint by its id."""
