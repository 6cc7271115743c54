nginx_user: nginx
