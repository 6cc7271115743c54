# Added to the minion configuration file's drift: (watch, debounce).
drift:
  flap_limit: 4
