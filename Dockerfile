# syntax=docker/dockerfile:1
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Every command under cmd/, so that the image holds them all.
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/ ./cmd/...

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ /usr/local/bin/
COPY config/genwatch.example.yaml /etc/genwatch/genwatch.yaml
USER nonroot:nonroot
# Listen beyond loopback inside the container; publish the port with care:
# the dashboard can delete tasks.
ENV GENWATCH_HTTP_ADDR=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/worker"]
CMD ["--config", "/etc/genwatch/genwatch.yaml"]
