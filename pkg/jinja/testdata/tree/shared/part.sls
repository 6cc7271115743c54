part for {{ grains.id }}
