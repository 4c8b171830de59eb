"""The frame stands: the dashboard serves its stylesheet to anyone and 404s unknown paths.
(The AUTH part's route-by-role test covers every route; this only guards the frame itself.)"""


def test_the_stylesheet_is_public_and_unknown_paths_are_404(dashboard_app, officer):
    anonymous = dashboard_app.test_client()
    with anonymous.get("/static/dashboard/dashboard.css") as response:
        assert response.status_code == 200 and response.mimetype == "text/css"
    with officer.get("/nothing-here") as response:
        assert response.status_code == 404
