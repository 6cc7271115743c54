site: {{ saltenv }}
