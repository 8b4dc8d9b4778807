import CMuse
