"""The station's web app (Flask): the kiosk, the supervisors' review of the log, its JSON API and the admins'
calibration pages, one blueprint each; `web.app.create_app` puts them together."""
