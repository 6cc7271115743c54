db: {engine: postgres, name: fromdefaults}
