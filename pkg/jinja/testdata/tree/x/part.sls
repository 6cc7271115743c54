part-{{ grains.id }}
