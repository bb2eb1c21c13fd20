"""The yardstick: the smallest Flask app, served the same way as ours."""

from flask import Flask

app = Flask(__name__)


@app.route("/", methods=["GET", "POST"])
def bare():
    return "ok"
