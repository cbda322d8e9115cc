-- Databases of the compose demo (run once, on an empty data volume).
CREATE DATABASE dagster;
CREATE DATABASE floe;
CREATE DATABASE marquez;
