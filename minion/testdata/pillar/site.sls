site: lab
