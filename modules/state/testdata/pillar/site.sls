site:
  name: lab
