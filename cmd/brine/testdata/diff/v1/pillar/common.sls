motd: welcome
