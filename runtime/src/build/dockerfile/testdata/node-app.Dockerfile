# Container base image
FROM node:alpine

WORKDIR /app/
# Copy files into container
COPY app.js package.json ./

# Execute command in container build
RUN npm install

# What to run when finished container will be started
ENTRYPOINT ["node"]

# What arguments to pass to ENTRYPOINT
# This is what will be overridden with the arguments after:
# `docker run <image>`
CMD ["app.js"]
