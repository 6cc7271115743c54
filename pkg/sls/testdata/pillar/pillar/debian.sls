pkgs: {apache: apache2}
